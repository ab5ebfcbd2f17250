from tessera.core.ops.embedded import embed_audio, embed_image, embed_text  # noqa: F401
