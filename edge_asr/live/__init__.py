"""The live pipeline: capture -> VAD -> streaming decoder -> events. No UI and no server code here."""
