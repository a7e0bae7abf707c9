# One image for web, worker and beat (docker-compose.yml picks the command).

# Front-end packages (Chart.js) from package-lock.json, in a throw-away Node stage:
# the final image gets the files collectstatic serves, not Node itself.
FROM node:22-bookworm-slim AS node-packages
WORKDIR /app
COPY package.json package-lock.json ./
# --omit=dev: the linter (ESLint) is for `make test`, not for the image.
RUN npm ci --omit=dev --no-audit --no-fund

FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    RKH_VAR_DIR=/data/var \
    MEDIA_ROOT=/data/media \
    BACKUP_DIR=/data/backups

# pg_dump and pg_restore for the backups (manage.py backup / restore_backup): bookworm's
# postgresql-client is 15, the version of the compose file's server (pg_dump must not be
# older than the server it dumps).
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/*

RUN pip install --no-cache-dir uv==0.13.8 \
    && useradd --system --uid 1000 --home /app rkh \
    && mkdir -p /data/var /data/media /data/backups && chown -R rkh /data

WORKDIR /app
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project

COPY . .
COPY --from=node-packages /app/node_modules ./node_modules
# Static files are built into the image; the key below only exists for this step.
RUN DEBUG=0 SECRET_KEY=collectstatic-only-build-key-not-used-at-run-time-0123456789 \
    python manage.py collectstatic --noinput

USER rkh
EXPOSE 8000
CMD ["uvicorn", "rkh_site.asgi:application", "--host", "0.0.0.0", "--port", "8000", "--proxy-headers", "--no-server-header"]
