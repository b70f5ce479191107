"""The extraction file: its on-disk spec, the writer, the lazy reader, validation and summaries."""
