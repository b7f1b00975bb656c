"""The composition root, started by `run.py`: the command line, the processes, the worker loop
and the wake-ups between processes. The only package that reads the environment, opens
sockets, starts threads and processes; nothing else in the project imports it."""
