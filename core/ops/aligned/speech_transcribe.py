from __future__ import annotations

from dataclasses import dataclass

from tessera.core.decode.audio import read_audio
from tessera.core.ops.base import OpContext, register_op
from tessera.core.records import Result, Sample


@register_op("speech.transcribe")
@dataclass(frozen=True, slots=True)
class SpeechTranscribe:
    """Transcribe audio that has speech-like content (not mostly silence; voiced, where audio.vad
    measured it) and no human text or cues (Whisper).
    Segments get source `whisper:<model>`; quiet or non-speech audio yields no segments."""

    max_silence_ratio: float = 0.9
    no_speech_threshold: float = 0.6
    min_voiced_ratio: float = 0.05  # audio.vad's share of speech frames, where measured

    def wants(self, s: Sample) -> bool:
        return (
            "audio" in s.media
            and s.text is None
            and not s.segments
            and s.metrics.get("silence_ratio", 0.0) <= self.max_silence_ratio
            and s.metrics.get("voiced_ratio", 1.0) >= self.min_voiced_ratio
        )

    def apply(self, samples: list[Sample], ctx: OpContext) -> list[Result]:
        if not any(self.wants(s) for s in samples):  # the transcriber loads only for speech it will hear
            return list(samples)
        transcriber = getattr(ctx.models, "transcriber", None)
        if transcriber is None:
            return list(samples)
        out: list[Result] = []
        for s in samples:
            if not self.wants(s):
                out.append(s)
                continue
            segments = transcriber.transcribe(read_audio(s.media["audio"]).samples, self.no_speech_threshold)
            transcript = " ".join(g.text for g in segments).strip() or None
            out.append(s.evolve(segments=segments, transcript=transcript).with_metrics(transcript_segments=float(len(segments))))
        return out
