# Build: a static binary, no cgo.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/connector ./cmd/connector

# Run: distroless static has CA certificates and a non-root user (65532), and nothing else.
FROM gcr.io/distroless/static-debian12:nonroot
WORKDIR /app
COPY --from=build /out/connector /app/connector
COPY component.json swagger.json /app/
USER 65532:65532
ENTRYPOINT ["/app/connector"]
CMD ["run"]
