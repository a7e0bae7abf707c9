"""The Web Push service simulator is as strict as a push service: pywebpush's messages pass,
and what a real service refuses is refused (so the end-to-end push tests can fail)."""

from __future__ import annotations

import json
import time

import pytest
from py_vapid import Vapid
from pywebpush import WebPushException, webpush

from notifications.push_simulator import PushServiceSimulator
from utilities.config import local_vapid_keys


@pytest.fixture
def keys(tmp_path):
    return local_vapid_keys(tmp_path / "vapid")  # (public, private)


@pytest.fixture
def service():
    with PushServiceSimulator() as sim:
        yield sim


def send(subscription, private, data="{}", **kwargs):
    return webpush(
        subscription_info=subscription,
        data=data,
        vapid_private_key=Vapid.from_string(private),
        vapid_claims=kwargs.pop("claims", {"sub": "mailto:ops@example.com"}),
        ttl=kwargs.pop("ttl", 60),
        timeout=5,
        **kwargs,
    )


def test_a_pywebpush_message_is_verified_and_decrypted(service, keys):
    public, private = keys
    subscription = service.subscribe(public)
    response = send(subscription, private, json.dumps({"title": "Order done"}))
    assert response.status_code == 201
    (message,) = service.wait_for(1)
    assert message.json() == {"title": "Order done"}
    assert message.ttl == 60
    assert message.claims["aud"] == service.core.origin
    assert message.claims["sub"] == "mailto:ops@example.com"


def test_another_servers_key_is_refused(service, keys, tmp_path):
    public, _ = keys
    _, other_private = local_vapid_keys(tmp_path / "other")
    subscription = service.subscribe(public)
    with pytest.raises(WebPushException) as caught:
        send(subscription, other_private)
    assert caught.value.response.status_code == 403
    assert service.messages == []


def test_a_payload_for_other_keys_does_not_decrypt(service, keys):
    public, private = keys
    subscription = service.subscribe(public)
    stranger = service.subscribe(public)
    subscription["keys"] = stranger["keys"]  # encrypted for someone else
    with pytest.raises(WebPushException) as caught:
        send(subscription, private)
    assert caught.value.response.status_code == 400


def test_wrong_audience_and_expired_tokens_are_refused(service, keys):
    public, private = keys
    subscription = service.subscribe(public)
    with pytest.raises(WebPushException) as caught:
        send(
            subscription, private, claims={"sub": "mailto:a@b.example", "aud": "https://x.example"}
        )
    assert caught.value.response.status_code == 403
    assert "aud" in service.refusals[-1][1]
    far = int(time.time()) + 3 * 24 * 3600
    with pytest.raises(WebPushException):
        send(subscription, private, claims={"sub": "mailto:a@b.example", "exp": far})
    assert "exp" in service.refusals[-1][1]


def test_expired_subscription_is_gone_and_unknown_is_404(service, keys):
    public, private = keys
    subscription = service.subscribe(public)
    service.expire(subscription["endpoint"])
    with pytest.raises(WebPushException) as caught:
        send(subscription, private)
    assert caught.value.response.status_code == 410
    subscription["endpoint"] += "x"
    with pytest.raises(WebPushException) as caught:
        send(subscription, private)
    assert caught.value.response.status_code == 404


def test_faults_are_answered_in_turn(service, keys):
    public, private = keys
    subscription = service.subscribe(public)
    service.fail_next(503)
    with pytest.raises(WebPushException) as caught:
        send(subscription, private)
    assert caught.value.response.status_code == 503
    assert send(subscription, private).status_code == 201
