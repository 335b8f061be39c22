module eddy.example/rest

go 1.22
