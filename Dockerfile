# hipbot's Telegram bot. The answer index is built into the image when the package is
# installed, so a container answers at once; conversation state lives on the /data volume.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml setup.py MANIFEST.in README.md LICENSE intents.yaml check.yaml ./
COPY corpus ./corpus
COPY bot ./bot
RUN pip install . \
    && useradd --system --create-home --home-dir /home/hipbot hipbot \
    && install -d -m 0700 -o hipbot /data \
    && rm -rf /src

USER hipbot
WORKDIR /home/hipbot
VOLUME ["/data"]
# The core must load and answer; the token is never needed for this check.
HEALTHCHECK --interval=60s --timeout=15s --start-period=20s CMD hipbot ask --json "hi" > /dev/null || exit 1
CMD ["hipbot", "telegram", "--persistence", "/data/telegram.sqlite3"]
