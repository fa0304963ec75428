module github.com/msnsniff/msnsniff

go 1.26.8
