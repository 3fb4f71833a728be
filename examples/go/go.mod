module github.com/libpetri/petri-go/examples

go 1.19

require github.com/libpetri/petri-go v0.0.0

replace github.com/libpetri/petri-go => ../../bindings/go
