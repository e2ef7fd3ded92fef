"""Stage 4, verify: look through a built image for traces of the mirror.

- :mod:`.needles`: what is looked for: the mirror URLs and credentials, the
  shapes of installer config;
- :mod:`.layers`: one layer read as a stream; :mod:`.archive`: the whole
  ``docker save`` or OCI archive, layers named by the history;
- :mod:`.documents`: the image config, its history, JSON documents
  (metadata file, provenance);
- :mod:`.report`: the findings, the result, its text and JSON;
- :mod:`.image`: the image on the engine, through the docker CLI;
- :mod:`.scan`: one run of ``verify``, from the settings to the result.
"""
