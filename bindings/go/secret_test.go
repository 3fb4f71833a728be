// SPDX-License-Identifier: Apache-2.0

package petri_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"syscall"
	"testing"

	petri "github.com/libpetri/petri-go"
)

const secretValue = "petri-go-secret-value-6b1e"

var placeholderRE = regexp.MustCompile(`^petri-vault-[0-9a-f]{32}$`)

func goSecret() petri.Secret {
	return petri.Secret{Value: []byte(secretValue), Hosts: []string{"api.example.test"}}
}

// fmt never prints a Secret's value, alone or inside Options.
func TestSecretNotPrinted(t *testing.T) {
	s := goSecret()
	opts := petri.Options{Net: "proxy", Secrets: map[string]petri.Secret{"TOKEN": s}}
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		for _, x := range []any{s, opts, &opts} {
			if out := fmt.Sprintf(f, x); strings.Contains(out, secretValue) {
				t.Errorf("fmt %s shows the value: %s", f, out)
			}
		}
	}
	if got := s.String(); got != "petri.Secret{<26 bytes>, Hosts: [api.example.test]}" {
		t.Errorf("String() = %q", got)
	}
}

// Bad secrets: EINVAL (ENOENT for a missing CA file) naming the secret or
// the option, never the value.
func TestSecretBadInput(t *testing.T) {
	with := func(f func(o *petri.Options)) petri.Options {
		o := petri.Options{Net: "proxy", Secrets: map[string]petri.Secret{"TOKEN": goSecret()}}
		f(&o)
		return o
	}
	cases := []struct {
		name  string
		opts  petri.Options
		errno syscall.Errno
		want  string
	}{
		{"no proxy", with(func(o *petri.Options) { o.Net = "none" }), syscall.EINVAL, "secrets need net proxy"},
		{"host net", with(func(o *petri.Options) { o.Net = "host" }), syscall.EINVAL, "secrets need net proxy"},
		{"ca without secrets", with(func(o *petri.Options) { o.Secrets = nil; o.Allow = []string{"a.test"}; o.UpstreamCA = "/etc/hostname" }),
			syscall.EINVAL, "upstream_ca"},
		{"ca missing", with(func(o *petri.Options) { o.UpstreamCA = "/nonexistent/petri-ca.pem" }), syscall.ENOENT, "/nonexistent/petri-ca.pem"},
		{"empty value", with(func(o *petri.Options) { o.Secrets["TOKEN"] = petri.Secret{Hosts: []string{"a.test"}} }), syscall.EINVAL, "TOKEN"},
		{"no hosts", with(func(o *petri.Options) { o.Secrets["TOKEN"] = petri.Secret{Value: []byte(secretValue)} }), syscall.EINVAL, "TOKEN"},
		{"NUL in host", with(func(o *petri.Options) {
			o.Secrets["TOKEN"] = petri.Secret{Value: []byte(secretValue), Hosts: []string{"a\x00b"}}
		}), syscall.EINVAL, "NUL"},
		{"empty name", with(func(o *petri.Options) { o.Secrets[""] = goSecret() }), syscall.EINVAL, "name"},
		{"bad name", with(func(o *petri.Options) { o.Secrets = map[string]petri.Secret{"BAD-NAME": goSecret()} }), syscall.EINVAL, "BAD-NAME"},
		{"digit first", with(func(o *petri.Options) { o.Secrets = map[string]petri.Secret{"1X": goSecret()} }), syscall.EINVAL, "1X"},
		{"bad host", with(func(o *petri.Options) {
			o.Secrets["TOKEN"] = petri.Secret{Value: []byte(secretValue), Hosts: []string{"exa mple.test"}}
		}), syscall.EINVAL, "exa mple.test"},
	}
	for _, c := range cases {
		sb, err := petri.New(c.opts)
		if err == nil {
			sb.Close()
			t.Errorf("%s: created, want %v", c.name, c.errno)
			continue
		}
		var pe *petri.Error
		if !errors.Is(err, c.errno) || !errors.As(err, &pe) || pe.Op != "create" ||
			!strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %v naming %q", c.name, err, c.errno, c.want)
		}
		if strings.Contains(err.Error(), secretValue) {
			t.Errorf("%s: the error shows the value: %v", c.name, err)
		}
	}
}

// Inside, the placeholder; the value printed by the code comes back masked,
// also streamed.
func TestSecretPlaceholderAndScrub(t *testing.T) {
	// Net not given: secrets mean the proxy.
	sb := newSandbox(t, petri.Options{Language: "sh",
		Secrets: map[string]petri.Secret{"TOKEN": goSecret()}})
	if r := mustExec(t, sb, `printf '%s' "$HTTPS_PROXY"`); string(r.Stdout) != "http://127.0.0.1:3128" {
		t.Fatalf("Net \"\" with Secrets: HTTPS_PROXY %q, want the proxy", r.Stdout)
	}
	r := mustExec(t, sb, `printf '%s' "$TOKEN"`)
	if !placeholderRE.Match(r.Stdout) {
		t.Fatalf("TOKEN inside is %q, want a placeholder", r.Stdout)
	}
	var streamed bytes.Buffer
	r, err := sb.Exec(context.Background(), "printf '<"+secretValue+">'; printf '"+secretValue+"' >&2",
		petri.WithOutput(func(s petri.Stream, d []byte) {
			if s == petri.Stdout {
				streamed.Write(d)
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	stars := strings.Repeat("*", len(secretValue))
	if string(r.Stdout) != "<"+stars+">" || string(r.Stderr) != stars || streamed.String() != "<"+stars+">" {
		t.Errorf("output not masked: stdout %q stderr %q streamed %q", r.Stdout, r.Stderr, streamed.String())
	}
}
