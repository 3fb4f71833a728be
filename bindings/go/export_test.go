// SPDX-License-Identifier: Apache-2.0

package petri

import (
	"syscall"
	"time"
)

// Hooks for the package's external tests.

// SetStreamSilence sets how long a silent exec stream is waited for, and
// returns a function that restores it.
func SetStreamSilence(d time.Duration) (restore func()) {
	old := streamSilence
	streamSilence = d
	return func() { streamSilence = old }
}

// CloseIdleConnections closes the kept-alive connections to every petrid.
func CloseIdleConnections() {
	clientsMu.Lock()
	defer clientsMu.Unlock()
	for _, c := range clients {
		c.hc.CloseIdleConnections()
	}
}

// CodeErrno is the errno an error code of petrid maps to when its error
// names no errno.
func CodeErrno(code string) syscall.Errno { return codeErrnos[code] }
