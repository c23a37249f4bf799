# byokd build and release. `make dist` builds every artifact into dist/:
# .deb and .rpm for linux amd64 and arm64, a Windows amd64 zip, tray-less
# macOS archives, icons and SHA256SUMS. See packaging/.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo none)
DATE    ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.date=$(DATE)

.PHONY: build dist icons test clean

build:
	go build -trimpath -ldflags "$(LDFLAGS)" -o byokd ./cmd/byokd

dist:
	rm -rf dist
	go run ./packaging/cmd/dist -version "$(VERSION)" -commit "$(COMMIT)" -date "$(DATE)" -out dist

# Redraws the source icon packaging/icon/byokd.png.
icons:
	go run ./packaging/cmd/icons -draw

test:
	scripts/test

clean:
	rm -rf byokd dist
