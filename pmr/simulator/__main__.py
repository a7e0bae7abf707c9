"""``python -m pmr.simulator --host 127.0.0.1 --port 56793``: run the PMR simulator."""

from __future__ import annotations

import argparse
import logging
import signal
from types import FrameType

from pmr.simulator.server import DEFAULT_PORT, PMRSimulator


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """SIGTERM (honcho, docker stop) ends the server like Ctrl-C, so cleanup runs."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local PMR v1 simulator (docs/pmr.md)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--client-id", default="demo-client")
    parser.add_argument("--client-secret", default="demo-secret")
    parser.add_argument("--api-key", default="demo-api-key")
    parser.add_argument("--webhook-secret", default="demo-webhook-secret")
    parser.add_argument(
        "--webhook-url", default=None, help="the project's POST /api/v1/pmr/webhook URL"
    )
    parser.add_argument("--token-ttl", type=int, default=3600, help="seconds a token lives")
    parser.add_argument("--latency-ms", type=int, default=0, help="added to every PMR call")
    parser.add_argument(
        "--state-file", default=None, help="JSON file that keeps the state across restarts"
    )
    parser.add_argument(
        "--blob-dir", default=None, help="where image bytes go (default: next to the state file)"
    )
    parser.add_argument("--seed", type=int, default=None, help="seed of the error_rate dice")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    sim = PMRSimulator(
        args.host,
        args.port,
        client_id=args.client_id,
        client_secret=args.client_secret,
        api_key=args.api_key,
        webhook_secret=args.webhook_secret,
        webhook_url=args.webhook_url,
        token_ttl=args.token_ttl,
        latency_ms=args.latency_ms,
        state_file=args.state_file,
        blob_dir=args.blob_dir,
        seed=args.seed,
    )
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        sim.serve_forever("PMR simulator on http://%s:%s (contract: pmr/contract/pmr-v1.yaml)")
    finally:
        sim.core.close()


if __name__ == "__main__":
    main()
