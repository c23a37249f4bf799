# byokd build and release. `make dist` builds every artifact into dist/:
# .deb and .rpm for linux amd64 and arm64, a Windows amd64 zip, tray-less
# macOS archives, icons and SHA256SUMS. See packaging/.
# A tag's build is its version; others count commits since it (or since
# the first commit), so every build's package sorts after the one before.
VERSION ?= $(shell git describe --tags --long --dirty 2>/dev/null || \
	{ n=$$(git rev-list --count HEAD 2>/dev/null) && echo "v0.0.0-$$n-g$$(git rev-parse --short HEAD)"; } || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo none)
DATE    ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
SIGN    ?=  # a GnuPG key to sign SHA256SUMS with; empty: unsigned
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.date=$(DATE)

.PHONY: build dist icons test clean

build:
	go build -trimpath -ldflags "$(LDFLAGS)" -o byokd ./cmd/byokd

dist:
	rm -rf dist
	go run ./packaging/cmd/dist -version "$(VERSION)" -commit "$(COMMIT)" -date "$(DATE)" -sign "$(SIGN)" -out dist

# Redraws the source icon packaging/icon/byokd.png.
icons:
	go run ./packaging/cmd/icons -draw

test:
	scripts/test

clean:
	rm -rf byokd dist
