# The authd image (docs/OPERATIONS.md "Container image"): the release
# binary on a slim Debian, run as an unprivileged user. The binary links
# only the C runtime (OpenSSL for libpq is built in), so the image adds
# nothing but CA certificates, for the apps' TLS (back-channel logout).
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
# perl and make (in this image) build the vendored OpenSSL.
RUN cargo build --release --locked --bin authd

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/authd --create-home authd
COPY --from=build /src/target/release/authd /usr/local/bin/authd
USER 10001:10001
WORKDIR /var/lib/authd
VOLUME /var/lib/authd
ENV AUTHD_BIND=0.0.0.0:8080 \
    DATABASE_URL=sqlite:///var/lib/authd/authd.db
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/authd"]
