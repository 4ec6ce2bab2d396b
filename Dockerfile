# Eventyard worker image (used by docker-compose.yml).
FROM python:3.11-slim
# The sources are built in /src and removed: a worker run from a directory that
# holds them would import them instead of the installed (compiled) package.
WORKDIR /src
COPY pyproject.toml setup.py MANIFEST.in README.md LICENSE ./
COPY eventyard ./eventyard
COPY pipelines ./pipelines
COPY operators ./operators
COPY state ./state
COPY config ./config
# gcc and OpenSSL's headers build the compiled hot path (setup.py: eventyard.core._native
# and the engine's modules); removed again after the build, the runtime needs only
# libssl3, which the image has.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev libssl-dev \
    && pip install --no-cache-dir . \
    && cd / && eventyard --version | grep -q "hot path: compiled" \
    && apt-get purge -y gcc libc6-dev libssl-dev && apt-get autoremove -y && rm -rf /var/lib/apt/lists/* /src
WORKDIR /data
ENV EVENTYARD_STATE__DIR=/data/state \
    EVENTYARD_RECOVERY__DIR=/data/recovery
VOLUME ["/data"]
ENTRYPOINT ["eventyard"]
CMD ["run", "order_saga", "--processes", "2"]
