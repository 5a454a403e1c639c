#!/usr/bin/env python3
"""The official `openai` Python SDK against `textgen serve` (run by .ci/run).

Usage: test-openai-client.py TEXTGEN_BINARY MODEL.gguf
Starts the server on a free port, runs chat, streaming chat, completions and logprobs through the SDK,
checks the answers, stops the server with SIGTERM and checks it exits 0. Exit status 0 when all pass.
"""
import re, signal, subprocess, sys, threading

from openai import OpenAI

binary, model = sys.argv[1], sys.argv[2]
server = subprocess.Popen([binary, "serve", "--port", "0", "--model", model, "--api-key", "test-key"],
                          stderr=subprocess.PIPE, text=True)
try:
    for line in server.stderr:
        m = re.search(r"http://\S+", line)
        if m:
            base = m.group(0)
            break
    else:
        sys.exit("server did not start")
    # Keep draining the request log so the server never blocks on a full pipe.
    threading.Thread(target=lambda: [None for _ in server.stderr], daemon=True).start()
    client = OpenAI(base_url=base + "/v1", api_key="test-key")
    model_id = client.models.list().data[0].id

    chat = client.chat.completions.create(model=model_id, temperature=0, max_tokens=30,
        messages=[{"role": "user", "content": "What is the capital of France?"}])
    answer = chat.choices[0].message.content
    assert "Paris" in answer, answer
    assert chat.choices[0].finish_reason == "stop" and chat.usage.completion_tokens > 0

    pieces = [c.choices[0].delta.content or "" for c in client.chat.completions.create(model=model_id,
        temperature=0, max_tokens=30, stream=True, messages=[{"role": "user", "content": "What is the capital of France?"}])
        if c.choices]
    assert "".join(pieces) == answer, ("".join(pieces), answer)

    comp = client.completions.create(model=model_id, prompt="Once upon a time, there was a little",
        temperature=0, max_tokens=12, logprobs=3)
    text = comp.choices[0].text
    assert text.startswith(" girl named Emma who loved to play"), text
    lp = comp.choices[0].logprobs
    assert len(lp.tokens) == 12 and len(lp.top_logprobs[0]) == 3 and all(x <= 0 for x in lp.token_logprobs)

    chat_lp = client.chat.completions.create(model=model_id, max_tokens=4, logprobs=True, top_logprobs=2, seed=3,
        messages=[{"role": "user", "content": "Hi"}])
    assert len(chat_lp.choices[0].logprobs.content) == 4
    assert len(chat_lp.choices[0].logprobs.content[0].top_logprobs) == 2

    try:
        client.completions.create(model=model_id, prompt="x", temperature=-1)
        sys.exit("a negative temperature was accepted")
    except Exception as e:  # the SDK raises BadRequestError for a 400
        assert "temperature" in str(e), e
    print("openai SDK: chat, streaming chat, completions, logprobs, errors: 5 passed, 0 failed")
finally:
    server.send_signal(signal.SIGTERM)
    code = server.wait(timeout=30)
    if code != 0:
        sys.exit(f"server exited with {code} after SIGTERM")
