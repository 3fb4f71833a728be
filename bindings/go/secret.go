// SPDX-License-Identifier: Apache-2.0

package petri

/*
#include <stdlib.h>
#include <petri/petri.h>
*/
import "C"

import (
	"sort"
	"strings"
	"unsafe"
)

// A Secret is a value the sandboxed code can use but never read
// (TenantVault; README "Secrets").  Given in Options.Secrets under a NAME,
// it shows inside as the environment variable NAME holding a random
// placeholder; the host's egress proxy puts Value in its place only in
// HTTPS requests to Hosts, which are allowed as if listed in Options.Allow.
// Value never enters the sandbox, and is masked in the output Exec and Run
// return.
//
// Hosts are "[http://]HOST[:PORT]" as in Options.Allow (PORT default 443;
// "http://" also lets the value go over plain HTTP to that host, port 80
// by default).  Value is copied into the library at New; the caller may
// then wipe its own copy.  fmt never prints Value (String, GoString).
type Secret struct {
	Value []byte
	Hosts []string
}

// String describes the secret without its value: its length and hosts.
func (s Secret) String() string {
	return "petri.Secret{<" + itoa(len(s.Value)) + " bytes>, Hosts: [" + strings.Join(s.Hosts, " ") + "]}"
}

// GoString is String, for %#v: the value is never printed.
func (s Secret) GoString() string { return s.String() }

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for ; n > 0; n /= 10 {
		i--
		b[i] = byte('0' + n%10)
	}
	return string(b[i:])
}

// secrets returns the NULL-terminated C array of petri_secret for m (nil
// for none), in name order.  The copies of the values are wiped by free.
// Errors name the secret, never its value; the library checks the names
// and hosts themselves.
func (a *cArena) secrets(op string, m map[string]Secret) (**C.petri_secret, error) {
	if len(m) == 0 {
		return nil, nil
	}
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	sort.Strings(names)
	n := len(names)
	ptrs := C.calloc(C.size_t(n+1), C.size_t(unsafe.Sizeof((*C.petri_secret)(nil))))
	structs := C.calloc(C.size_t(n), C.size_t(unsafe.Sizeof(C.petri_secret{})))
	if ptrs == nil || structs == nil {
		panic("petri: out of memory")
	}
	a.ptrs = append(a.ptrs, ptrs, structs)
	parr := unsafe.Slice((**C.petri_secret)(ptrs), n+1)
	sarr := unsafe.Slice((*C.petri_secret)(structs), n)
	for i, name := range names {
		s := m[name]
		if !validSecretName(name) {
			return nil, invalid(op, "secret %q: the name must match [A-Za-z_][A-Za-z0-9_]{0,63} (it is an env var)", name)
		}
		if len(s.Value) == 0 {
			return nil, invalid(op, "secret %s: empty value", name)
		}
		if len(s.Hosts) == 0 {
			return nil, invalid(op, "secret %s: no hosts (it may be sent nowhere)", name)
		}
		hosts, err := a.strv(op, "secret "+name+" host", s.Hosts)
		if err != nil {
			return nil, err
		}
		cs := &sarr[i]
		cs.sz = C.uint32_t(unsafe.Sizeof(*cs))
		cs.name = a.str(name)
		cs.value = a.secretBytes(s.Value)
		cs.value_len = C.size_t(len(s.Value))
		cs.hosts = (**C.char)(unsafe.Pointer(hosts))
		parr[i] = cs
	}
	return (**C.petri_secret)(ptrs), nil
}

// validSecretName: [A-Za-z_][A-Za-z0-9_]{0,63}, as the library requires;
// checked here too so that the error names the secret.
func validSecretName(name string) bool {
	if name == "" || len(name) > 64 || (name[0] >= '0' && name[0] <= '9') {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c == '_' || (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')) {
			return false
		}
	}
	return true
}

// secretBytes copies b into C memory that free wipes before releasing.
func (a *cArena) secretBytes(b []byte) unsafe.Pointer {
	p := C.CBytes(b)
	a.ptrs = append(a.ptrs, p)
	a.wipe = append(a.wipe, unsafe.Slice((*byte)(p), len(b)))
	return p
}
