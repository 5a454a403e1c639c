#!/usr/bin/env bash
# Build local stand-ins for every base image the Dockerfile names, for Docker engines that cannot
# reach a container registry (air-gapped sites, CI machines behind a package-only proxy).
#
# Each stand-in is made from Debian packages with debootstrap (plus, for rust:*, this machine's own
# Rust toolchain) and tagged with the exact name the Dockerfile uses, so the unmodified
# `docker build -t my-text-gen .` works afterwards.
#
# Usage: scripts/offline-base-images.sh [--force] [--list] [--dockerfile PATH]
#   --force       rebuild stand-ins even when an image of that name already exists
#   --list        print the base images the Dockerfile needs and whether they exist, then exit
#   --dockerfile  Dockerfile to read the FROM lines from (default: Dockerfile next to scripts/)
#
# Environment:
#   TEXTGEN_DEBIAN_MIRROR   Debian mirror for debootstrap (default http://deb.debian.org/debian)
#   TEXTGEN_CACHE_DIR       where debootstrap roots and .debs are cached (default ~/.cache/textgen)
#   TEXTGEN_CA_BUNDLE       CA bundle of this machine to trust inside builds (default: $SSL_CERT_FILE
#                           or the distribution's bundle). A CA bundle holds public certificates only.
#   TEXTGEN_ALLOW_TOOLCHAIN_MISMATCH=1
#                           tag rust:X with a host toolchain whose version is not X (not recommended)
#
# HTTPS through an intercepting proxy: the stand-ins carry this machine's CA bundle (appended to
# Debian's) in /usr/local/share/textgen-offline/ca-bundle.crt and point SSL_CERT_FILE,
# CARGO_HTTP_CAINFO, PIP_CERT, REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE at it, so cargo and pip inside
# `docker build` trust the proxy. Debian's own /etc/ssl/certs/ca-certificates.crt is left untouched,
# so nothing of this machine ends up in the final (scratch) image. No credentials, tokens, proxy
# settings or cargo/pip configuration files are copied.
set -euo pipefail

repo_root=$(cd -P "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dockerfile="$repo_root/Dockerfile"
force=0
list_only=0
mirror=${TEXTGEN_DEBIAN_MIRROR:-http://deb.debian.org/debian}
cache_dir=${TEXTGEN_CACHE_DIR:-${HOME:-/root}/.cache/textgen}
standin_ca_path=/usr/local/share/textgen-offline/ca-bundle.crt

log() { printf '[offline-base-images] %s\n' "$*" >&2; }
die() { printf '[offline-base-images] ERROR: %s\n' "$*" >&2; exit 1; }

while [ $# -gt 0 ]; do
    case $1 in
        --force) force=1 ;;
        --list) list_only=1 ;;
        --dockerfile) [ $# -ge 2 ] || die "--dockerfile needs a path"; dockerfile=$2; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
    shift
done

# The `docker` first on PATH may be a client without buildx; /usr/bin/docker is Debian's docker.io.
if [ -x /usr/bin/docker ]; then docker=/usr/bin/docker; else docker=$(command -v docker) || die "docker not found"; fi

# Base images named by FROM lines, minus `scratch` and references to earlier stages; digests dropped.
base_images() {
    awk '
        toupper($1) == "FROM" {
            i = 2
            while ($i ~ /^--/) i++
            image = $i
            sub(/@sha256:.*/, "", image)
            if (tolower($(i + 1)) == "as") stage[tolower($(i + 2))] = 1
            if (image == "scratch" || (tolower(image) in stage) || (image in seen)) next
            seen[image] = 1
            print image
        }' "$dockerfile"
}

image_exists() { "$docker" image inspect "$1" >/dev/null 2>&1; }

host_ca_bundle() {
    local candidate
    for candidate in "${TEXTGEN_CA_BUNDLE:-}" "${SSL_CERT_FILE:-}" /etc/ssl/certs/ca-certificates.crt \
        /etc/pki/tls/certs/ca-bundle.crt /etc/ssl/cert.pem; do
        if [ -n "$candidate" ] && [ -s "$candidate" ]; then printf '%s\n' "$candidate"; return 0; fi
    done
    return 1
}

suite_of() {
    case $1 in
        *bookworm*) echo bookworm ;;
        *trixie*) echo trixie ;;
        *bullseye*) echo bullseye ;;
        *) die "cannot tell the Debian release of '$1' (expected bookworm, trixie or bullseye in the tag)" ;;
    esac
}

# A debootstrap minbase root of SUITE plus PACKAGES (comma-separated), cached as a tarball.
rootfs_tarball() {
    local suite=$1 packages=$2 key tarball work
    key=$(printf '%s|%s|%s' "$suite" "$packages" "$mirror" | sha256sum | cut -c1-12)
    tarball="$cache_dir/debootstrap/$suite-minbase-$key.tar"
    if [ -s "$tarball" ]; then
        log "using cached root $tarball"
        printf '%s\n' "$tarball"
        return 0
    fi
    command -v debootstrap >/dev/null || die "debootstrap not found (apt-get install -y debootstrap)"
    [ "$(id -u)" -eq 0 ] || die "debootstrap needs root"
    mkdir -p "$cache_dir/debootstrap/debs"
    work=$(mktemp -d "$cache_dir/debootstrap/root.XXXXXX")
    log "debootstrap --variant=minbase $suite${packages:+ +$packages} (a few minutes, cached afterwards)"
    debootstrap --variant=minbase --cache-dir="$cache_dir/debootstrap/debs" \
        ${packages:+--include="$packages"} "$suite" "$work/root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
        { tail -n 30 "$work/debootstrap.log" >&2; rm -rf "$work"; die "debootstrap failed"; }
    # Slim like the official images: no package caches, docs or host identity.
    rm -rf "$work/root/var/cache/apt/archives/"*.deb "$work/root/var/lib/apt/lists/"* \
        "$work/root/usr/share/doc/"* "$work/root/usr/share/man/"* "$work/root/usr/share/info/"* \
        "$work/root/var/log/"*.log "$work/root/etc/hostname"
    : >"$work/root/etc/resolv.conf"
    tar --numeric-owner -C "$work/root" -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$work"
    printf '%s\n' "$tarball"
}

# Extract TARBALL into DIR/root for customisation.
unpack_root() { mkdir -p "$2/root"; tar --numeric-owner -C "$2/root" -xf "$1"; }

# Add this machine's CA bundle (appended to Debian's) and print the matching ENV changes.
add_ca_bundle() {
    local root=$1 host_ca var
    if ! host_ca=$(host_ca_bundle); then
        log "warning: no CA bundle found on this machine; builds trust only Debian's CAs"
        return 0
    fi
    mkdir -p "$root$(dirname "$standin_ca_path")"
    {
        if [ -s "$root/etc/ssl/certs/ca-certificates.crt" ]; then cat "$root/etc/ssl/certs/ca-certificates.crt"; fi
        cat "$host_ca"
    } >"$root$standin_ca_path"
    for var in SSL_CERT_FILE CARGO_HTTP_CAINFO PIP_CERT REQUESTS_CA_BUNDLE CURL_CA_BUNDLE; do
        printf 'ENV %s=%s\n' "$var" "$standin_ca_path"
    done
}

# docker import DIR/root as IMAGE; remaining lines on stdin are --change instructions.
import_root() {
    local dir=$1 image=$2 line
    local -a changes=()
    while IFS= read -r line; do [ -n "$line" ] && changes+=(--change "$line"); done
    changes+=(--change "LABEL org.opencontainers.image.description=\"Offline stand-in for $image built by textgen scripts/offline-base-images.sh\"")
    changes+=(--change "LABEL io.textgen.offline-stand-in=true")
    tar --numeric-owner -C "$dir/root" -cf - . | "$docker" import "${changes[@]}" - "$image" >/dev/null
    log "tagged $image ($("$docker" image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1 / 1e6}'))"
}

build_debian() {
    local image=$1 dir=$2 tarball
    tarball=$(rootfs_tarball "$(suite_of "$image")" "ca-certificates")
    unpack_root "$tarball" "$dir"
    {
        add_ca_bundle "$dir/root"
        echo 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
        echo 'CMD ["bash"]'
    } | import_root "$dir" "$image"
}

build_python() {
    local image=$1 dir=$2 tarball
    tarball=$(rootfs_tarball "$(suite_of "$image")" "ca-certificates,python3,python3-pip")
    unpack_root "$tarball" "$dir"
    # The official image's pip may install into the system; Debian's refuses (PEP 668) unless told.
    rm -f "$dir/root"/usr/lib/python3*/EXTERNALLY-MANAGED
    ln -sf /usr/bin/python3 "$dir/root/usr/local/bin/python"
    ln -sf /usr/bin/pip3 "$dir/root/usr/local/bin/pip"
    {
        add_ca_bundle "$dir/root"
        echo 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin'
        echo 'ENV LANG=C.UTF-8'
        echo 'CMD ["python3"]'
    } | import_root "$dir" "$image"
}

build_rust() {
    local image=$1 dir=$2 tarball wanted host_version host_triple sysroot toolchain rustup_bin settings_version tool
    wanted=${image#*:}
    wanted=${wanted%%-*}
    command -v rustc >/dev/null || PATH="${HOME:-/root}/.cargo/bin:$PATH"
    command -v rustc >/dev/null || die "rustc not found: the rust:* stand-in is made from this machine's toolchain"
    host_version=$(rustc -vV | sed -n 's/^release: //p')
    host_triple=$(rustc -vV | sed -n 's/^host: //p')
    case $wanted in
        1|slim|"$host_version") ;;
        *)
            case $host_version in
                "$wanted".*) ;;
                *)
                    [ "${TEXTGEN_ALLOW_TOOLCHAIN_MISMATCH:-0}" = 1 ] ||
                        die "$image wants Rust $wanted but this machine has rustc $host_version (install it with rustup, or set TEXTGEN_ALLOW_TOOLCHAIN_MISMATCH=1)"
                    log "warning: tagging rustc $host_version as $image"
                    ;;
            esac
            ;;
    esac
    sysroot=$(cd -P "$(rustc --print sysroot)" && pwd)
    toolchain="$host_version-$host_triple"
    tarball=$(rootfs_tarball "$(suite_of "$image")" "ca-certificates,gcc,libc6-dev")
    unpack_root "$tarball" "$dir"
    log "copying the Rust $host_version toolchain from $sysroot (without its documentation)"
    mkdir -p "$dir/root/usr/local/rustup/toolchains/$toolchain" "$dir/root/usr/local/cargo/bin"
    tar -C "$sysroot" --exclude=./share/doc -cf - . | tar -C "$dir/root/usr/local/rustup/toolchains/$toolchain" -xf -
    if rustup_bin=$(command -v rustup) && rustup_bin=$(readlink -f "$rustup_bin"); then
        # Same layout as the official image: rustup proxies in $CARGO_HOME/bin, toolchains in $RUSTUP_HOME.
        settings_version=$(sed -n 's/^version = "\([0-9]*\)"/\1/p' "$(rustup show home)/settings.toml" 2>/dev/null || true)
        printf 'version = "%s"\ndefault_toolchain = "%s"\nprofile = "minimal"\n\n[overrides]\n' \
            "${settings_version:-12}" "$toolchain" >"$dir/root/usr/local/rustup/settings.toml"
        install -m 0755 "$rustup_bin" "$dir/root/usr/local/cargo/bin/rustup"
        for tool in "$sysroot"/bin/*; do
            ln -sf rustup "$dir/root/usr/local/cargo/bin/$(basename "$tool")"
        done
    else
        for tool in "$sysroot"/bin/*; do
            ln -sf "/usr/local/rustup/toolchains/$toolchain/bin/$(basename "$tool")" \
                "$dir/root/usr/local/cargo/bin/$(basename "$tool")"
        done
    fi
    {
        add_ca_bundle "$dir/root"
        echo 'ENV RUSTUP_HOME=/usr/local/rustup'
        echo 'ENV CARGO_HOME=/usr/local/cargo'
        echo 'ENV PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
        echo "ENV RUST_VERSION=$host_version"
        echo 'CMD ["bash"]'
    } | import_root "$dir" "$image"
}

[ -f "$dockerfile" ] || die "no Dockerfile at $dockerfile"
mapfile -t images < <(base_images)
[ ${#images[@]} -gt 0 ] || { log "the Dockerfile names no base image except scratch"; exit 0; }

if [ "$list_only" = 1 ]; then
    for image in "${images[@]}"; do
        if image_exists "$image"; then echo "$image present"; else echo "$image missing"; fi
    done
    exit 0
fi

"$docker" info >/dev/null 2>&1 || die "cannot talk to the Docker engine ($docker info failed)"
workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT

for image in "${images[@]}"; do
    if image_exists "$image" && [ "$force" = 0 ]; then
        log "$image already exists (use --force to rebuild it)"
        continue
    fi
    log "building stand-in for $image"
    dir="$workdir/$(printf '%s' "$image" | tr -c 'A-Za-z0-9._-' '_')"
    mkdir -p "$dir"
    case $image in
        rust:*|docker.io/library/rust:*) build_rust "$image" "$dir" ;;
        python:*|docker.io/library/python:*) build_python "$image" "$dir" ;;
        debian:*|docker.io/library/debian:*) build_debian "$image" "$dir" ;;
        *) die "no recipe for a stand-in of $image; add one to $0" ;;
    esac
    rm -rf "$dir"
done
log "done: ${images[*]}"
