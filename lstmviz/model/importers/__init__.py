"""Reading char-LSTM checkpoints written by other training scripts into :class:`CharLSTM`.

Each module has one job:

- :mod:`~lstmviz.model.importers.opening` opens a file (torch, safetensors, or a trusted pickle).
- :mod:`~lstmviz.model.importers.pickles` unpickles whole models whose classes are gone.
- :mod:`~lstmviz.model.importers.wrapped` finds the weights and metadata inside what the file holds.
- :mod:`~lstmviz.model.importers.state_dicts` finds embedding, LSTM and decoder in a state dict by shapes.
- :mod:`~lstmviz.model.importers.recurrent` finds the LSTM layers: one ``nn.LSTM``, LSTMCells, or a
  stack of one-layer LSTMs, put in the order they run.
- :mod:`~lstmviz.model.importers.keras_files` reads Keras files (``.keras``, ``.h5``) without Keras,
  :mod:`~lstmviz.model.importers.keras_layers` sorts their layers into CharLSTM's parts, and
  :mod:`~lstmviz.model.importers.keras` rebuilds the char-LSTM they hold.
- :mod:`~lstmviz.model.importers.vocab_discovery` finds the vocabulary: in the file, next to it, or given.
- :mod:`~lstmviz.model.importers.vocab_forms` reads one saved vocabulary, in every form and name trainers use.
- :mod:`~lstmviz.model.importers.plain_pickle` reads plain-data pickles (nanoGPT's ``meta.pkl``) without
  running code.

The layout names below are stable: extraction files record them.
"""

LSTMVIZ = "lstmviz"  # lstmviz's own checkpoint (lstmviz.model.checkpoint)
STATE_DICT = "state-dict"  # torch.save(model.state_dict())
SAFETENSORS = "safetensors"  # safetensors.torch.save_file(model.state_dict(), ...)
WRAPPED = "wrapped-state-dict"  # torch.save({"state_dict": ..., "vocab": ..., ...})
PICKLED = "pickled-model"  # torch.save(model)

KERAS = "keras"  # model.save("m.keras") in Keras 3
KERAS_H5 = "keras-h5"  # model.save("m.h5"), Keras 2 and 3
KERAS_WEIGHTS = "keras-weights"  # model.save_weights(...) with model.to_json() beside it

LAYOUTS = (LSTMVIZ, STATE_DICT, SAFETENSORS, WRAPPED, PICKLED, KERAS, KERAS_H5, KERAS_WEIGHTS)
