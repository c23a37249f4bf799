module byokd.dev/byok

go 1.26.8
