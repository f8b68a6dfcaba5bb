module github.com/trace-exporter/trace-exporter

go 1.26.8
