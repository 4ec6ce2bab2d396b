# Eventyard worker image (used by docker-compose.yml).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY eventyard ./eventyard
COPY pipelines ./pipelines
COPY operators ./operators
COPY state ./state
COPY config ./config
RUN pip install --no-cache-dir .
ENV EVENTYARD_STATE__DIR=/data/state \
    EVENTYARD_RECOVERY__DIR=/data/recovery
VOLUME ["/data"]
ENTRYPOINT ["eventyard"]
CMD ["run", "order_saga", "--processes", "2"]
