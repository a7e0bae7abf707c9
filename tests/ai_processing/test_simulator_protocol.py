"""Protocol tests of the Runware simulator with a raw websockets client."""

import asyncio
import base64
import io
import json
import uuid

import httpx
import pytest
from PIL import Image
from websockets.asyncio.client import connect

from ai_processing.simulator import RunwareSimulator
from tests.asyncio_helpers import run_async


def png(colour=(200, 30, 30), size=(64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "PNG")
    return buf.getvalue()


def uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


@pytest.fixture
def sim():
    with RunwareSimulator(api_key="good", seed=1) as s:
        yield s


def run(coro):
    return run_async(coro, 15)


async def session(sim, key="good"):
    ws = await connect(sim.ws_url)
    await ws.send(json.dumps([{"taskType": "authentication", "apiKey": key}]))
    return ws, json.loads(await ws.recv())


async def call(ws, *tasks):
    for t in tasks:
        t.setdefault("taskUUID", str(uuid.uuid4()))
    await ws.send(json.dumps(list(tasks)))
    return [json.loads(await ws.recv()) for _ in tasks]


def edit_task(image, prompt="warm it up", **extra):
    return {
        "taskType": "imageInference",
        "model": "google:4@1",
        "positivePrompt": prompt,
        "inputs": {"referenceImages": [image]},
        "includeCost": True,
        **extra,
    }


def test_auth_ok_and_ping(sim):
    async def go():
        ws, reply = await session(sim)
        assert reply["data"][0]["taskType"] == "authentication"
        assert uuid.UUID(reply["data"][0]["connectionSessionUUID"])
        await ws.send(json.dumps([{"taskType": "ping", "ping": True}]))
        assert json.loads(await ws.recv()) == {"data": [{"taskType": "ping", "pong": True}]}
        await ws.close()

    run(go())


@pytest.mark.parametrize(("key", "code"), [("bad", "invalidApiKey"), ("", "missingApiKey")])
def test_auth_failure_shape(sim, key, code):
    async def go():
        ws, reply = await session(sim, key)
        err = reply["errors"][0]
        assert err["code"] == code
        assert err["taskType"] == "authentication"
        assert {"message", "parameter", "taskUUID", "documentation"} <= err.keys()
        await ws.close()

    run(go())


def test_inference_edit_real_and_deterministic(sim):
    src = png()

    async def go():
        ws, _ = await session(sim)
        (a,) = await call(ws, edit_task(uri(src)))
        (b,) = await call(ws, edit_task(uri(src)))
        (c,) = await call(ws, edit_task(uri(src), prompt="something else entirely"))
        await ws.close()
        return a["data"][0], b["data"][0], c["data"][0]

    a, b, c = run(go())
    assert a["cost"] == 0.039
    assert a["taskType"] == "imageInference"
    assert a["imageUUID"] != b["imageUUID"]
    out_a, out_b = httpx.get(a["imageURL"]).content, httpx.get(b["imageURL"]).content
    assert out_a == out_b
    img = Image.open(io.BytesIO(out_a))
    assert img.format == "JPEG"
    assert img.size == (1184, 864)
    assert out_a != httpx.get(c["imageURL"]).content or a["seed"] != c["seed"]
    assert img.resize((64, 48)).getpixel((5, 5)) != (200, 30, 30)


def test_inference_validation_errors(sim):
    async def go():
        ws, _ = await session(sim)
        bad_size, no_input, half = await call(
            ws,
            {"taskType": "imageInference", "model": "google:4@1", "width": 512, "height": 512},
            {"taskType": "imageInference", "model": "google:4@1", "positivePrompt": "x"},
            {"taskType": "imageInference", "model": "google:4@1", "width": 1024},
        )
        await ws.close()
        return bad_size, no_input, half

    results = run(go())
    codes = {r["errors"][0]["code"] for r in results}
    assert codes == {"invalidDimensions", "invalidParameter", "missingParameter"}
    for r in results:
        assert {"code", "message", "parameter", "taskType", "taskUUID", "documentation"} <= (
            r["errors"][0].keys()
        )


def test_text_to_image_and_output_types(sim):
    async def go():
        ws, _ = await session(sim)
        res = await call(
            ws,
            {
                "taskType": "imageInference",
                "model": "google:4@1",
                "positivePrompt": "a sunset",
                "width": 1344,
                "height": 768,
                "outputType": "dataURI",
                "outputFormat": "PNG",
            },
        )
        await ws.close()
        return res[0]["data"][0]

    item = run(go())
    assert item["imageDataURI"].startswith("data:image/png;base64,")
    data = base64.b64decode(item["imageDataURI"].split(",", 1)[1])
    assert Image.open(io.BytesIO(data)).size == (1344, 768)


def test_conflict_task_uuid(sim):
    async def go():
        ws, _ = await session(sim)
        task = {"taskType": "imageCaption", "inputImage": uri(png()), "taskUUID": str(uuid.uuid4())}
        (first,) = await call(ws, dict(task))
        (second,) = await call(ws, dict(task))
        await ws.close()
        return first, second

    first, second = run(go())
    assert first["data"][0]["text"]
    assert second["errors"][0]["code"] == "conflictTaskUUID"


def test_caption_deterministic_and_upload_uuid(sim):
    async def go():
        ws, _ = await session(sim)
        (up,) = await call(ws, {"taskType": "imageUpload", "image": uri(png((20, 40, 220)))})
        image_uuid = up["data"][0]["imageUUID"]
        c1, c2 = await call(
            ws,
            {"taskType": "imageCaption", "inputImage": image_uuid, "includeCost": True},
            {"taskType": "imageCaption", "inputImage": up["data"][0]["imageURL"]},
        )
        (edit,) = await call(ws, edit_task(image_uuid))
        await ws.close()
        return up, c1, c2, edit

    up, c1, c2, edit = run(go())
    assert httpx.get(up["data"][0]["imageURL"]).content == png((20, 40, 220))
    assert c1["data"][0]["text"] == c2["data"][0]["text"]
    assert "blue" in c1["data"][0]["text"]
    assert "landscape" in c1["data"][0]["text"]
    assert any("cost" in c["data"][0] for c in (c1, c2))  # replies may come in any order
    assert edit["data"][0]["imageURL"]


def test_out_of_order_answers_and_state(sim):
    httpx.post(sim.http_url + "/_sim/faults", json={"latency": 0.2})

    async def go():
        ws, _ = await session(sim)
        tasks = [{"taskType": "imageCaption", "inputImage": uri(png())} for _ in range(8)]
        replies = await call(ws, *tasks)
        await ws.close()
        return [t["taskUUID"] for t in tasks], [r["data"][0]["taskUUID"] for r in replies]

    sent, got = run(go())
    assert sorted(sent) == sorted(got)
    assert sent != got  # answered concurrently, out of order
    state = httpx.get(sim.http_url + "/_sim/state").json()
    assert state["tasks"]["imageCaption"] == 8
    assert state["max_in_flight"] >= 4
    assert state["connections"] == 1
    assert state["faults"]["latency"] == 0.2


def test_faults_capacity_and_auth_fail_and_reset(sim):
    httpx.post(sim.http_url + "/_sim/faults", json={"capacity_errors": 1})

    async def go():
        ws, _ = await session(sim)
        a, _b = (
            await call(
                ws,
                {"taskType": "imageCaption", "inputImage": uri(png())},
            ),
            None,
        )
        await ws.close()
        httpx.post(sim.http_url + "/_sim/faults", json={"auth_fail": True})
        ws, reply = await session(sim)
        await ws.close()
        return a[0], reply

    err, reply = run(go())
    assert err["errors"][0]["code"] == "timeoutProvider"
    assert reply["errors"][0]["code"] == "invalidApiKey"
    assert httpx.post(sim.http_url + "/_sim/faults", json={"nope": 1}).status_code == 400
    state = httpx.post(sim.http_url + "/_sim/reset").json()
    assert state["faults"]["auth_fail"] is False
    assert state["tasks_total"] == 0


def test_resume_delivers_buffered_results_once(sim):
    httpx.post(sim.http_url + "/_sim/faults", json={"latency": 0.3})

    async def go():
        ws, reply = await session(sim)
        session_uuid = reply["data"][0]["connectionSessionUUID"]
        task = {"taskType": "imageCaption", "inputImage": uri(png()), "taskUUID": str(uuid.uuid4())}
        await ws.send(json.dumps([task]))
        await ws.close()
        await asyncio.sleep(0.6)
        ws = await connect(sim.ws_url)
        auth = {"taskType": "authentication", "apiKey": "good"}
        await ws.send(json.dumps([{**auth, "connectionSessionUUID": session_uuid}]))
        again = json.loads(await ws.recv())
        buffered = json.loads(await ws.recv())
        await ws.close()
        return session_uuid, task, again, buffered

    session_uuid, task, again, buffered = run(go())
    assert again["data"][0]["connectionSessionUUID"] == session_uuid
    assert buffered["data"][0]["taskUUID"] == task["taskUUID"]
    state = httpx.get(sim.http_url + "/_sim/state").json()
    assert state["resumes"] == 1
    assert state["tasks"]["imageCaption"] == 1


def test_idle_socket_closed():
    with RunwareSimulator(idle_timeout=0.3) as s:

        async def go():
            ws, _ = await session(s, "any")
            await asyncio.sleep(0.6)
            with pytest.raises(Exception):  # noqa: B017,PT011 - any close error is fine
                await ws.recv()

        run(go())
