# Natter in a container: build the release binary, then run it on a slim Debian.
# Templates, static files and migrations are compiled into the binary.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin natter

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* && useradd --system --uid 10001 natter \
    && mkdir -p /data/files && chown -R natter /data
COPY --from=build /src/target/release/natter /usr/local/bin/natter
USER natter
ENV NATTER_BIND=0.0.0.0:3000 NATTER_FILES_DIR=/data/files
EXPOSE 3000
CMD ["natter", "serve"]
