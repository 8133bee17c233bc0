module spindle.example/wordcount

go 1.24
