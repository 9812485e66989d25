"""`tradestore bench`: the whole pipeline measured in one run, side by side, saved for the trend."""
