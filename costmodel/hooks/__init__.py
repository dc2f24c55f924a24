"""Budget-guard hooks for voice-agent frameworks (Pipecat, LiveKit Agents).

Each hook lives in its own module and needs its framework only when used:
``pip install costmodel[pipecat]`` / ``pip install costmodel[livekit]``. The core package
never imports them.
"""
