// SPDX-License-Identifier: Apache-2.0

package petri_test

// What the remote transport adds per operation (go test -run '^$' -bench .):
// an exec of /bin/true in a kept sandbox, and a create + exec + close
// cycle, in-process and through petrid on loopback.

import (
	"context"
	"testing"

	petri "github.com/libpetri/petri-go"
)

func benchTransports(b *testing.B, f func(b *testing.B, o petri.Options)) {
	b.Run("local", func(b *testing.B) { f(b, petri.Options{}) })
	b.Run("remote", func(b *testing.B) {
		srv := sharedPetrid(b)
		f(b, petri.Options{URL: srv.url, Token: srv.token})
	})
}

func BenchmarkExecTrue(b *testing.B) {
	benchTransports(b, func(b *testing.B, o petri.Options) {
		sb, err := petri.New(o)
		if err != nil {
			b.Fatal(err)
		}
		defer sb.Close()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := sb.Run(context.Background(), []string{"/bin/true"}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkCycle(b *testing.B) {
	benchTransports(b, func(b *testing.B, o petri.Options) {
		for i := 0; i < b.N; i++ {
			sb, err := petri.New(o)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := sb.Run(context.Background(), []string{"/bin/true"}); err != nil {
				b.Fatal(err)
			}
			if err := sb.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
