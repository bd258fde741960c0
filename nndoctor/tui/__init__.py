"""The Textual interview (`nndoctor ask`); the engine, knowledge and adapters never import it."""
