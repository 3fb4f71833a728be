module github.com/libpetri/petri-go

go 1.19
