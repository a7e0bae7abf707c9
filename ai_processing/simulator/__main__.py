"""``python -m ai_processing.simulator --host 127.0.0.1 --port 8765``: run the Runware simulator."""

from __future__ import annotations

import argparse
import logging

from ai_processing.simulator.server import RunwareSimulator


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local Runware API simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--api-key", default=None, help="accept only this key (default: any)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per task")
    parser.add_argument("--error-rate", type=float, default=0.0)
    parser.add_argument("--drop-rate", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--idle-timeout", type=float, default=120.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    sim = RunwareSimulator(
        args.host,
        args.port,
        api_key=args.api_key,
        latency=args.latency,
        error_rate=args.error_rate,
        drop_rate=args.drop_rate,
        seed=args.seed,
        idle_timeout=args.idle_timeout,
    )

    sim.serve_forever("Runware simulator on ws://%s:%s/v1 (result images over HTTP)")


if __name__ == "__main__":
    main()
