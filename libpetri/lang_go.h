/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lang_go.h - how Go code runs, for lang.c and for the petri CLI (which
 * runs Go files and Go code with arguments itself): a shell script whose $1
 * is the Go file and whose further arguments are the program's.
 *
 * Not `go run`: it reports every non-zero exit as its own status 1 (and a
 * signal as "signal: killed", status 1).  The program is built next to the
 * build cache and executed in the shell's place, so that its exit status,
 * its signal and its argv are its own.  Like `go run`, without DWARF (a
 * third of a cold link) unless GOFLAGS sets link flags.
 */
#ifndef PETRI_LANG_GO_H
#define PETRI_LANG_GO_H

#define PETRI_GO_BUILD_EXEC                                                                        \
	"b=/home/sandbox/.cache/petri-go; l=-ldflags=-w; case \"$GOFLAGS\" in *ldflags*) l=;; "    \
	"esac; mkdir -p \"$b\" && /usr/bin/go build $l -o \"$b/main\" \"$1\" || exit; shift; "     \
	"exec \"$b/main\" \"$@\""

#endif
