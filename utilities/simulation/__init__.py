"""What every simulator (Runware, Gemini, PMR) shares.

A background aiohttp server and the /_sim control endpoints; no Django imports, because
simulators run as plain processes.
"""
