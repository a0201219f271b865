"""govhub benchmarks: each module measures one stage against a baseline in the same run."""
