"""What the app hosts besides its screens: the loaded model and the notes index.

Plain, thread-safe classes built from AppConfig, with no Textual in them: the app runs their
slow parts in its workers and hands them a thread-safe way to report back. Screens and widgets
reach them through the app (``probllms_app(self).models``, ``.notes``), never as globals.
"""
