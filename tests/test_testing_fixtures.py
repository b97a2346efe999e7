"""The service fixtures that ``vecbridge.testing.fixtures`` ships (the Milvus Lite server fixtures are
used by tests/milvus, tests/distributed and tests/ingest under their old names)."""

from vecbridge.testing.fixtures import es_emulator_factory  # noqa: F401


def test_es_emulator_factory_restarts_on_the_same_data(es_emulator_factory):  # noqa: F811
    from elasticsearch import Elasticsearch

    emulator = es_emulator_factory()
    with Elasticsearch(emulator.url) as client:
        client.index(index="kit", id="1", document={"a": 1}, refresh=True)
    emulator.stop()
    assert not emulator.running
    emulator.start()
    with Elasticsearch(emulator.url) as client:
        assert client.get(index="kit", id="1")["_source"] == {"a": 1}
