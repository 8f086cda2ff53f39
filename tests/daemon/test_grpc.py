"""The gRPC adapter against a real daemon, with grpcio stubs built from the shipped .proto."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from edge_asr.audio import decode_audio
from edge_asr.evaluate import wer

grpc = pytest.importorskip("grpc", reason="the grpc extra (grpcio) is not installed")
pytest.importorskip("grpc_tools", reason="the grpc extra (grpcio-tools) is not installed")

pytestmark = pytest.mark.timeout(180)

JFK = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."
CHUNK = 4000  # samples per streamed message (0.25 s)
RPC_TIMEOUT = 120.0  # s


@pytest.fixture(scope="module")
def stubs():  # type: ignore[no-untyped-def]
    return grpc.protos_and_services("edge_asr/daemon/proto/edge_asr.proto")


def test_unary_and_streaming_transcription(start_daemon, tmp_path, jfk_path, stubs) -> None:
    pb, svc = stubs
    token = tmp_path / "token"
    token.write_text("grpc-secret")
    d = start_daemon("--token-file", str(token), "--set", "grpc.enabled=true", "--set", "grpc.port=0")
    port = int(d.wait_for(r"grpc listening on tcp://127\.0\.0\.1:(\d+)", 30).group(1))
    auth = (("authorization", "Bearer grpc-secret"),)
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = svc.TranscriptionStub(channel)
        reply = stub.Transcribe(pb.TranscribeRequest(audio=jfk_path.read_bytes(), word_timestamps=True),
                                metadata=auth, timeout=RPC_TIMEOUT)
        assert wer([JFK], [reply.text]) < 0.1, reply.text
        assert abs(reply.duration - 11.0) < 0.1 and reply.segments and reply.segments[0].words

        with pytest.raises(grpc.RpcError) as err:
            stub.Transcribe(pb.TranscribeRequest(audio=jfk_path.read_bytes()), timeout=RPC_TIMEOUT)
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.RpcError) as err:
            stub.Transcribe(pb.TranscribeRequest(audio=b"not audio at all" * 10), metadata=auth, timeout=RPC_TIMEOUT)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "not audio" in err.value.details()

        pcm = (np.clip(decode_audio(jfk_path), -1, 1) * 32767).astype("<i2").tobytes()

        def requests() -> Iterator[object]:
            yield pb.StreamRequest(config=pb.StreamConfig(encoding="pcm_s16le", sample_rate=16000))
            for i in range(0, len(pcm), CHUNK * 2):
                yield pb.StreamRequest(audio=pcm[i : i + CHUNK * 2])

        replies = list(stub.StreamingTranscribe(requests(), metadata=auth, timeout=RPC_TIMEOUT))
        finals = [r for r in replies if r.kind == pb.StreamResponse.FINAL]
        assert [f.id for f in finals] == list(range(len(finals)))
        assert wer([JFK], [" ".join(f.text for f in finals)]) < 0.15, finals
