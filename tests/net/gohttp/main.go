// SPDX-License-Identifier: Apache-2.0

// gohttp: a Go net/http client that e2e_clients.py builds on the host and
// runs inside a `petri run --net proxy` sandbox.
//
//	gohttp env|direct URL...
//
// env: the default transport's proxy choice (http.ProxyFromEnvironment:
// HTTP_PROXY / HTTPS_PROXY); direct: Transport{Proxy: nil}, so the client
// resolves the name itself and connects to the address DNS gave it.  Prints
// "URL STATUS BODY" or "URL ERR error" per URL; exits 1 if any failed.
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

func main() {
	if len(os.Args) < 3 || (os.Args[1] != "env" && os.Args[1] != "direct") {
		fmt.Fprintln(os.Stderr, "usage: gohttp env|direct URL...")
		os.Exit(2)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if os.Args[1] == "direct" {
		tr.Proxy = nil
	} else {
		tr.Proxy = http.ProxyFromEnvironment
	}
	client := &http.Client{Transport: tr, Timeout: 20 * time.Second}
	rc := 0
	for _, u := range os.Args[2:] {
		resp, err := client.Get(u)
		if err != nil {
			fmt.Printf("%s ERR %v\n", u, err)
			rc = 1
			continue
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			fmt.Printf("%s ERR reading body: %v\n", u, err)
			rc = 1
			continue
		}
		fmt.Printf("%s %d %s\n", u, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	os.Exit(rc)
}
