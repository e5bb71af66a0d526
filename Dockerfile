# s3blob in a container: one static binary and the CA certificates, nothing else.
#
#   docker build -t s3blob .
#   docker run --rm -e AWS_ACCESS_KEY_ID -e AWS_SECRET_ACCESS_KEY -e AWS_REGION \
#     -v "$PWD/dist:/work" -w /work s3blob upload --bucket artifacts --suite myapp --release 1.4.1 myapp.tar.gz
#
# The build stage compiles on Alpine, whose Rust targets musl: the binary is static, as the
# release's Linux binaries are. The final image holds /s3blob and the CA bundle rustls reads
# (the system's roots, as on any Linux), and runs as an unprivileged user.
FROM rust:1.95-alpine3.22 AS build
# Alpine pins its packages per release (3.22 above); versions inside one are not kept.
# hadolint ignore=DL3018
RUN apk add --no-cache musl-dev ca-certificates
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin s3blob \
    && install -D -m 755 target/release/s3blob /out/s3blob

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/s3blob /s3blob
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
USER 65534:65534
ENTRYPOINT ["/s3blob"]
