"""Every JSON-lines verb the broker has, through the installed package, against a real broker."""

import socket
import threading
import time
import uuid

import pytest

from switchboard_client import SwitchboardError


def _name(prefix):
    # Each test owns its names: the suite shares one broker.
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def test_trigger_reaches_a_listener_in_order_with_seq(connect):
    service, app = connect(client="svc"), connect(client="app")
    clock = _name("clock")
    service.sender(clock, events=["tick"])
    listen_id, deliveries = app.listen(clock, "tick")
    for i in range(1, 4):
        service.trigger(clock, "tick", i, wait=True)
    got = [deliveries.get(timeout=5) for _ in range(3)]
    assert [(e["sender"], e["event"], e["data"], e["seq"]) for e in got] == [
        (clock, "tick", 1, 1), (clock, "tick", 2, 2), (clock, "tick", 3, 3)]
    app.unlisten(listen_id)
    service.trigger(clock, "tick", 4, wait=True)
    app.ping()  # a round trip after the trigger: a delivery, had there been one, would have come first
    assert deliveries.empty()


def test_a_listen_callback_gets_each_event(connect):
    service, app = connect(), connect()
    s = _name("s")
    service.sender(s, events=["e"])
    seen = []
    done = threading.Event()

    def on_event(event):
        seen.append(event["data"])
        if len(seen) == 2:
            done.set()

    app.listen(s, "e", on_event)
    service.trigger(s, "e", "a")
    service.trigger(s, "e", "b")
    assert done.wait(5)
    assert seen == ["a", "b"]


def test_a_request_is_answered_by_its_handler_and_the_default(connect):
    service, app = connect(), connect()
    s = _name("svc")
    service.sender(s, requests={"double": lambda data: data * 2}, default=lambda name, data: f"{name}:{data}")
    assert app.request(s, "double", 21) == 42
    assert app.request(s, "other", 1) == "other:1"


def test_request_errors_carry_the_brokers_codes(connect):
    service, app = connect(), connect()
    s = _name("svc")

    def fail(data):
        raise ValueError("no good")

    def slow(data):
        time.sleep(2)

    service.sender(s, requests={"fail": fail, "slow": slow})
    with pytest.raises(SwitchboardError) as nobody:
        app.request(_name("nobody"), "x", timeout=1)
    assert nobody.value.code == "no_sender"
    with pytest.raises(SwitchboardError) as failed:
        app.request(s, "fail")
    assert failed.value.code == "handler_error"
    assert "no good" in failed.value.message
    with pytest.raises(SwitchboardError) as late:
        app.request(s, "slow", timeout=0.3)
    assert late.value.code == "timeout"


def test_an_invalid_name_is_refused_with_its_code(connect):
    app = connect()
    with pytest.raises(SwitchboardError) as refused:
        app.sender("bad name with spaces", events=["e"])
    assert refused.value.code == "invalid_name"


def test_retained_value_reaches_a_later_listener(connect):
    service, app = connect(), connect()
    s = _name("thermo")
    service.sender(s, events=["#temperature"])
    service.trigger(s, "#temperature", 21.5, retain=True, wait=True)
    _, deliveries = app.listen(s, "#temperature")
    assert deliveries.get(timeout=5)["data"] == 21.5


def test_unsender_takes_a_sender_offline(connect):
    service, app = connect(), connect()
    s = _name("gone")
    service.sender(s, events=["e"])
    assert s in [x["name"] for x in app.senders()]
    service.unsender(s)
    assert s not in [x["name"] for x in app.senders()]


def test_gather_topics_results_and_unproducer(connect):
    service, app, watcher = connect(), connect(), connect()
    topic, other = _name("prices"), _name("rates")
    _, results = watcher.results(topic)
    name = service.producer(topic, lambda t, data: {"topic": t, "for": data}, name=_name("p"))
    gathered = app.gather(topic, "EUR", ttl=2)
    assert gathered.results == [(name, {"topic": topic, "for": "EUR"})]
    assert gathered.answered == [name] and gathered.missing == [] and gathered.failed == {}
    seen = results.get(timeout=5)
    assert (seen["producer"], seen["topic"], seen["data"]) == (name, topic, {"topic": topic, "for": "EUR"})

    service.topics(name, add=[other], remove=[topic])
    assert app.gather(other, 1, ttl=2).answered == [name]
    assert app.gather(topic, 1, ttl=0.2).answered == []
    service.unproducer(name)
    assert app.gather(other, 1, ttl=0.2).answered == []
    with pytest.raises(SwitchboardError) as unknown:
        service.topics(name, add=[topic])
    assert unknown.value.code == "unknown_producer"


def test_a_failing_producer_is_reported_as_failed(connect):
    service, app = connect(), connect()
    topic = _name("t")

    def fail(t, data):
        raise RuntimeError("broken")

    name = service.producer(topic, fail)
    gathered = app.gather(topic, None, ttl=2)
    assert list(gathered.failed) == [name] and "broken" in gathered.failed[name]


def test_close_says_bye_so_no_will_fires_but_a_dropped_connection_fires_it(connect):
    watcher = connect()
    s, t = _name("w1"), _name("w2")
    _, wills = watcher.listen(None, "#status")
    polite = connect()
    polite.sender(s, events=["#status"], will=("#status", "lost"))
    polite.close()
    rude = connect()
    rude.sender(t, events=["#status"], will=("#status", "lost"))
    rude._socket.shutdown(socket.SHUT_RDWR)  # dies without bye (close() alone waits for the reader's file too)
    event = wills.get(timeout=10)
    assert (event["sender"], event["data"]) == (t, "lost")
    watcher.ping()
    assert wills.empty()


def test_a_closed_client_raises_connection_error(connect):
    app = connect()
    app.close()
    with pytest.raises((ConnectionError, OSError)):
        app.ping()


def test_a_dropped_connection_reconnects_and_declares_everything_again(connect):
    service, app = connect(client="svc"), connect()
    s, topic = _name("back"), _name("topic")
    service.sender(s, events=["e"], requests={"ping": lambda data: "pong"})
    _, deliveries = service.listen(s, "e")
    producer = service.producer(topic, lambda t, data: "here")
    old = service._socket
    old.shutdown(socket.SHUT_RDWR)  # the connection drops; the client was not closed

    deadline = time.monotonic() + 10
    while service._socket is old or s not in [x["name"] for x in app.senders()]:
        assert time.monotonic() < deadline, "the client did not reconnect and declare its sender again"
        time.sleep(0.05)
    assert app.request(s, "ping") == "pong"
    while True:
        try:
            service.trigger(s, "e", 7, wait=True)
            break
        except SwitchboardError:  # the listen may not be declared yet: wait for it
            assert time.monotonic() < deadline
            time.sleep(0.05)
    assert deliveries.get(timeout=5)["data"] == 7
    assert app.gather(topic, None, ttl=2).answered == [producer]
