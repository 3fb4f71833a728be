// SPDX-License-Identifier: Apache-2.0

//go:build petri_pkgconfig

package petri

// With -tags petri_pkgconfig the flags come from libpetri.pc (installed by
// `cmake --install`); PKG_CONFIG_PATH points pkg-config at a non-standard
// prefix.

// #cgo pkg-config: libpetri
import "C"
