"""The code of ``scripts/build_corpus.py``, which builds livesep's training and test corpus.

One module per concern, each importing only those before it in this list:

- :mod:`.common`: the error type, the sample array type and the seeds;
- :mod:`.packages`: installing the Debian packages and ``mido`` the build needs;
- :mod:`.signals`: levels, fades, silence trimming, mixing at an SNR, the WAV writer;
- :mod:`.speech`: the klettres readers and their clips;
- :mod:`.midi`: notes, MIDI files and their rendering with fluidsynth;
- :mod:`.music`: the instruments and the music composed for them;
- :mod:`.instruments`: the instrument part, rendered from composed music;
- :mod:`.drumkits`: hydrogen drum kits and their samples;
- :mod:`.drums`: the drum part, grooves on those kits;
- :mod:`.noise`: the noise part, effect programs and cymbals;
- :mod:`.mixtures`: the test mixtures;
- :mod:`.runner`: running tasks, alone or in a process pool;
- :mod:`.manifest`: ``manifest.json``;
- :mod:`.build`: the build functions;
- :mod:`.cli`: the command line.

The package is imported as ``corpus``, with ``scripts/`` on ``sys.path``: running
``build_corpus.py`` puts it there, and loading that file by its path adds it.
"""
