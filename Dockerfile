# Build stage: compile the release binary. Migrations are embedded at compile time.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY migrations ./migrations
COPY bench ./bench
RUN cargo build --release --locked -p headwater

# Run stage: a small image with just the binary.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 headwater
COPY --from=build /src/target/release/headwater /usr/local/bin/headwater
USER headwater
ENV HEADWATER_ADDR=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["headwater"]
CMD ["serve"]
