// SPDX-License-Identifier: Apache-2.0

//go:build !petri_pkgconfig

package petri

// The default way to find libpetri: its header and library are in the
// compiler's and linker's search paths (an installed library under
// /usr/local, or CGO_CFLAGS=-I<repo>/include CGO_LDFLAGS=-L<build dir> for
// an in-tree build).  Build with -tags petri_pkgconfig to ask pkg-config
// instead (cgo_pkgconfig.go).

// #cgo LDFLAGS: -lpetri
import "C"
