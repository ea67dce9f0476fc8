// The text files of an export besides rewards.py: train_grpo.py (with a test
// mode that builds a tiny random Qwen2-VL offline), check_rewards.py, the
// accelerate / DeepSpeed configs and README.md. Every value from the trainer
// enters Python as a literal from PythonSource or TRLExport.pythonValue; data
// stays in data/*.jsonl.
import Foundation
import MedR1Lib

enum TRLScripts {
    /// medr1 metric -> TRL's logged key, where they differ or to be read the same.
    static let metricTable: [(medr1: String, trl: String, note: String)] = [
        ("reward", "reward", "mean weighted total reward"),
        ("reward_std", "reward_std", "its standard deviation (TRL: mean of the per-group stds)"),
        ("rewards/<name>/mean", "rewards/<name>/mean", "each reward's mean (TRL names it after the function: the reward's name)"),
        ("rewards/<name>/std", "rewards/<name>/std", "each reward's std"),
        ("frac_reward_zero_std", "frac_reward_zero_std", "fraction of groups whose rewards are all equal"),
        ("kl", "kl", "mean per-token KL to the reference (logged only when beta > 0)"),
        ("completions/mean_length", "completions/mean_length", "mean completion length in tokens (different tokenizers)"),
        ("loss", "loss", "the GRPO loss"),
        ("grad_norm", "grad_norm", "gradient norm before clipping"),
        ("learning_rate", "learning_rate", "the learning rate of the step"),
        ("seconds", "step_time", "wall time of a step"),
    ]

    static func trainScript(_ e: TRLExport, settings: [TRLExport.Setting], unmapped: [String]) -> String {
        let c = e.trainer.config
        var s = """
        #!/usr/bin/env python3
        # GRPO with TRL's GRPOTrainer on the data, prompt, rewards and settings of a medr1 trainer
        # (written by medr1's export). Written for trl==\(TRLExport.trlVersion), transformers==\(TRLExport.transformersVersion), \
        torch==\(TRLExport.torchVersion).
        #
        #   python train_grpo.py --model \(TRLExport.defaultModel) --output_dir runs/grpo
        #   accelerate launch --config_file accelerate/zero2.yaml train_grpo.py --output_dir runs/grpo
        #   python train_grpo.py --test_mode --output_dir /tmp/grpo-test     # 2 steps of a tiny random Qwen2-VL on CPU, offline
        #
        # Settings mapped from medr1 (option -> GRPOConfig field):

        """
        for st in settings { s += "#   \(st.from) -> \(st.trl) = \(st.python)\n" }
        if unmapped.isEmpty {
            s += "# Every medr1 option of this trainer has a TRL counterpart.\n"
        } else {
            s += "# medr1 options with no TRL counterpart (not carried over): \(unmapped.joined(separator: ", "))\n"
        }
        s += """
        import argparse
        import json
        import os
        import sys

        HERE = os.path.dirname(os.path.abspath(__file__))
        sys.path.insert(0, HERE)
        import rewards  # noqa: E402

        # The prompt: the data's `problem` put into the trainer's template.
        QUESTION_TEMPLATE = \(PythonSource.string(e.questionTemplate))
        PROMPTS_PER_STEP = \(c.promptsPerStep)
        NUM_GENERATIONS = \(c.group)
        STEPS_PER_GENERATION = \(c.stepsPerGeneration)
        GRADIENT_ACCUMULATION_STEPS = \(c.gradientAccumulationSteps)
        WORLD_SIZE = int(os.environ.get("WORLD_SIZE", "1"))


        def batch_fields():
            \"\"\"TRL's batch settings for PROMPTS_PER_STEP prompts a step on WORLD_SIZE processes.\"\"\"
            per_process, rest = divmod(PROMPTS_PER_STEP, WORLD_SIZE)
            if rest or per_process * GRADIENT_ACCUMULATION_STEPS % STEPS_PER_GENERATION:
                sys.exit(f"{PROMPTS_PER_STEP} prompts a step do not split over {WORLD_SIZE} processes into "
                         f"{STEPS_PER_GENERATION} parts: choose a number of processes that divides them")
            return {"per_device_train_batch_size": NUM_GENERATIONS,
                    "steps_per_generation": per_process,
                    "gradient_accumulation_steps": per_process * GRADIENT_ACCUMULATION_STEPS // STEPS_PER_GENERATION}


        def grpo_settings():
            \"\"\"The GRPOConfig fields that come from the medr1 trainer.\"\"\"
            return {

        """
        for st in settings { s += "        \(PythonSource.string(st.trl)): \(st.python),\n" }
        s += """
            }


        def load_split(name):
            from datasets import Image, load_dataset

            path = os.path.join(HERE, "data", name + ".jsonl")
            ds = load_dataset("json", data_files=path, split="train")

            def to_prompt(example):
                text = QUESTION_TEMPLATE.replace("{Question}", example["problem"])
                return {"prompt": [{"role": "user", "content": text}], "image_path": example["image"],
                        "image": os.path.join(HERE, "data", example["image"])}

            return ds.map(to_prompt).cast_column("image", Image())


        def tiny_qwen2_vl(folder, texts):
            \"\"\"A randomly initialised Qwen2-VL with a byte-level BPE tokenizer trained on `texts`, saved with
            save_pretrained into `folder` (TRL rebuilds the reference model from that path), and its processor.
            Nothing is downloaded.\"\"\"
            import torch
            from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
            from transformers import PreTrainedTokenizerFast, Qwen2VLConfig, Qwen2VLForConditionalGeneration
            from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil
            from transformers.models.qwen2_vl.processing_qwen2_vl import Qwen2VLProcessor
            from transformers.processing_utils import ProcessorMixin

            specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
                        "<|image_pad|>", "<|video_pad|>"]
            bpe = Tokenizer(models.BPE())
            bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
            bpe.decoder = decoders.ByteLevel()
            bpe.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=400, special_tokens=specials,
                                                               initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
            template = ("{% for message in messages %}<|im_start|>{{ message['role'] }}\\n"
                        "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
                        "{% for part in message['content'] %}{% if part['type'] == 'image' %}"
                        "<|vision_start|><|image_pad|><|vision_end|>{% elif part['type'] == 'text' %}{{ part['text'] }}"
                        "{% endif %}{% endfor %}{% endif %}<|im_end|>\\n{% endfor %}"
                        "{% if add_generation_prompt %}<|im_start|>assistant\\n{% endif %}")
            tok = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|endoftext|>", padding_side="left",
                                          chat_template=template)

            class ImageOnlyQwen2VLProcessor(Qwen2VLProcessor):
                \"\"\"Qwen2VLProcessor without the video processor (which needs torchvision).\"\"\"

                def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
                    self.image_token, self.video_token = "<|image_pad|>", "<|video_pad|>"
                    self.image_token_id = tokenizer.convert_tokens_to_ids(self.image_token)
                    self.video_token_id = tokenizer.convert_tokens_to_ids(self.video_token)
                    ProcessorMixin.__init__(self, image_processor, tokenizer, chat_template=chat_template)

            images = Qwen2VLImageProcessorPil(min_pixels=56 * 56, max_pixels=56 * 56)
            processor = ImageOnlyQwen2VLProcessor(image_processor=images, tokenizer=tok, chat_template=template)
            head_dim = 16
            config = Qwen2VLConfig(
                text_config={"vocab_size": len(tok), "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
                             "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 1024,
                             "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0,
                                                 "mrope_section": [2, 3, 3]},
                             "eos_token_id": tok.eos_token_id, "pad_token_id": tok.pad_token_id,
                             "bos_token_id": tok.eos_token_id},
                vision_config={"depth": 1, "embed_dim": 32, "hidden_size": 64, "num_heads": 2, "mlp_ratio": 2},
                image_token_id=processor.image_token_id, video_token_id=processor.video_token_id,
                vision_start_token_id=tok.convert_tokens_to_ids("<|vision_start|>"),
                vision_end_token_id=tok.convert_tokens_to_ids("<|vision_end|>"))
            assert sum(config.text_config.rope_parameters["mrope_section"]) == head_dim // 2
            torch.manual_seed(0)
            model = Qwen2VLForConditionalGeneration(config)
            model.generation_config.eos_token_id = tok.eos_token_id
            model.generation_config.pad_token_id = tok.pad_token_id
            model.save_pretrained(folder)
            tok.save_pretrained(folder)
            return folder, processor


        def spread_reward(completions, **kwargs):
            \"\"\"Test mode only: a random model never writes the tags, so every group would have zero reward spread
            and nothing would train; this reward (the completion's length) has spread.\"\"\"
            return [len(rewards.completion_text(c)) / 100.0 for c in completions]


        def main():
            parser = argparse.ArgumentParser(description=__doc__)
            parser.add_argument("--model", default=\(PythonSource.string(TRLExport.defaultModel)))
            parser.add_argument("--output_dir", default="runs/grpo")
            parser.add_argument("--max_steps", type=int, default=\(e.steps))
            parser.add_argument("--bf16", action="store_true", help="train in bfloat16 (GPUs)")
            parser.add_argument("--test_mode", action="store_true",
                                help="2 steps of a tiny random Qwen2-VL on CPU, offline, 2 prompts a step")
            args = parser.parse_args()

            from trl import GRPOConfig, GRPOTrainer

            global PROMPTS_PER_STEP
            train = load_split("train")
            fields = grpo_settings()
            reward_funcs = list(rewards.REWARD_FUNCS)
            reward_weights = list(rewards.REWARD_WEIGHTS)
            processing_class = None
            model = args.model
            if args.test_mode:
                PROMPTS_PER_STEP = 2
                fields.update(batch_fields())
                fields["max_completion_length"] = min(16, fields.get("max_completion_length", 16))
                fields.pop("max_steps", None)
                args.max_steps = 2
                texts = [QUESTION_TEMPLATE.replace("{Question}", p) for p in train["problem"]] + ["<think></think><answer></answer>"]
                model, processing_class = tiny_qwen2_vl(os.path.join(args.output_dir, "tiny-qwen2-vl"), texts)
                # A random model samples any token; vision tokens in a completion would break Qwen2-VL's
                # position ids, so the test run never samples them.
                vision = ["<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>", "<|im_start|>"]
                fields["generation_kwargs"] = {
                    "suppress_tokens": processing_class.tokenizer.convert_tokens_to_ids(vision)}
                reward_funcs.append(spread_reward)
                reward_weights.append(1.0)
            if "max_steps" not in fields:
                fields["max_steps"] = args.max_steps
            config = GRPOConfig(
                output_dir=args.output_dir,
                reward_weights=reward_weights,
                logging_steps=1,
                save_strategy="no",
                report_to="none",
                bf16=args.bf16,
                use_cpu=args.test_mode,
                remove_unused_columns=False,
                **fields,
            )
            trainer = GRPOTrainer(model=model, reward_funcs=reward_funcs, args=config, train_dataset=train,
                                  processing_class=processing_class)
            trainer.train()
            trainer.save_state()  # writes trainer_state.json (read it back in medr1 with read_trl_log)
            if not args.test_mode:
                trainer.save_model(args.output_dir)
            print(json.dumps({"trainer_state": os.path.join(args.output_dir, "trainer_state.json")}))


        if __name__ == "__main__":
            main()

        """
        return s
    }

    static let checkRewards = #"""
    #!/usr/bin/env python3
    # Recomputes every reward of rollouts.jsonl with rewards.py and compares it with the value medr1
    # computed for the same completion. Needs only Python's standard library.
    #
    #   python3 check_rewards.py [rollouts.jsonl]
    import json
    import math
    import os
    import sys

    HERE = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, HERE)
    import rewards  # noqa: E402


    def same(a, b):
        if b is None:  # medr1 wrote a value that JSON cannot hold
            return a is None or (isinstance(a, float) and not math.isfinite(a))
        return a == b or (isinstance(a, float) and math.isnan(a) and isinstance(b, float) and math.isnan(b))


    def main():
        path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "rollouts.jsonl")
        agree = differ = 0
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                r = json.loads(line)
                comps = r["completions"]
                completions = [[{"role": "assistant", "content": c["text"]}] for c in comps]
                ids = [[0] * c["length"] for c in comps]
                columns = {k: [v] * len(comps) for k, v in r["sample"].items()}
                columns["finish_reason"] = [c["finish_reason"] for c in comps]
                prompts = [[{"role": "user", "content": r["prompt"]}]] * len(comps)
                for j, (name, fn) in enumerate(zip(rewards.REWARD_NAMES, rewards.REWARD_FUNCS)):
                    got = fn(prompts=prompts, completions=completions, completion_ids=ids, **columns)
                    for i, c in enumerate(comps):
                        want = c["rewards"][j]
                        if same(got[i], want):
                            agree += 1
                        else:
                            differ += 1
                            print("line %d, completion %d, reward %s: medr1 %r, Python %r; text %s"
                                  % (n, i, ascii(name), want, got[i], ascii(c["text"])))
        print("reward values: %d agree, %d differ" % (agree, differ))
        if not agree and not differ:
            print("no recorded completions: step the trainer before export to record a rollout")
        sys.exit(1 if differ else 0)


    if __name__ == "__main__":
        main()

    """#

    static func accelerateConfig(stage: Int) -> String {
        """
        # accelerate launch --config_file accelerate/zero\(stage).yaml train_grpo.py --bf16 --output_dir runs/grpo
        # DeepSpeed ZeRO-\(stage)\(stage == 3 ? " (parameters, gradients and optimizer state sharded)" : " (gradients and optimizer state sharded)"); set
        # num_processes to the number of GPUs.
        compute_environment: LOCAL_MACHINE
        debug: false
        deepspeed_config:
          deepspeed_multinode_launcher: standard
          offload_optimizer_device: none
          offload_param_device: none
          zero3_init_flag: \(stage == 3 ? "true" : "false")
        \(stage == 3 ? "  zero3_save_16bit_model: true\n" : "")  zero_stage: \(stage)
        distributed_type: DEEPSPEED
        downcast_bf16: 'no'
        machine_rank: 0
        main_training_function: main
        mixed_precision: bf16
        num_machines: 1
        num_processes: 2
        rdzv_backend: static
        same_network: true
        tpu_env: []
        tpu_use_cluster: false
        tpu_use_sudo: false
        use_cpu: false

        """
    }

    static func readme(_ e: TRLExport, settings: [TRLExport.Setting], unmapped: [String]) -> String {
        let c = e.trainer.config
        var s = """
        # A medr1 GRPO experiment for TRL

        Written by medr1's `export`: the data, prompt template, rewards and settings of a GRPO
        trainer (\(c.promptsPerStep) prompts x \(c.group) completions a step, rewards \
        \(e.trainer.rewards.map { "`\(Escaping.visibleControls($0.name).replacingOccurrences(of: "`", with: "'"))`" }.joined(separator: ", "))), \
        ready for TRL's `GRPOTrainer`. Written for trl \(TRLExport.trlVersion), transformers \(TRLExport.transformersVersion), \
        torch \(TRLExport.torchVersion) (CPU or CUDA build), datasets, accelerate, deepspeed for ZeRO.

        | file | holds |
        |---|---|
        | `data/train.jsonl`\(e.test == nil ? "" : ", `data/test.jsonl`") | one sample a line in Med-R1's layout (`image`, `problem`, `solution`) plus `modality`, `question_type` and the sample's other fields; images in `data/images/` |
        | `rewards.py` | every reward as a TRL reward function; `REWARD_FUNCS`, `REWARD_WEIGHTS` |
        | `train_grpo.py` | `GRPOTrainer` + `GRPOConfig` with the trainer's settings (table below) |
        | `accelerate/zero2.yaml`, `accelerate/zero3.yaml` | DeepSpeed ZeRO-2 / ZeRO-3 launch configs |
        | `rollouts.jsonl`, `check_rewards.py` | the trainer's last rollout with medr1's reward values, and the check that `rewards.py` gives the same values |

        ## Run

        ```
        pip install trl==\(TRLExport.trlVersion) transformers==\(TRLExport.transformersVersion) datasets accelerate pillow
        python3 check_rewards.py                      # rewards.py against medr1's values (standard library only)
        python train_grpo.py --test_mode --output_dir /tmp/grpo-test   # 2 steps, tiny random Qwen2-VL, CPU, offline
        python train_grpo.py --bf16 --output_dir runs/grpo           # one GPU, \(TRLExport.defaultModel)
        accelerate launch --config_file accelerate/zero2.yaml train_grpo.py --bf16 --output_dir runs/grpo   # N GPUs
        ```

        For N GPUs set `num_processes: N` in the config; `train_grpo.py` divides the gradient
        accumulation by the number of processes so a step still covers \(c.promptsPerStep) prompts.
        Use `zero3.yaml` when the model and optimizer state do not fit on one GPU.
        Read the run back into medr1 with `read_trl_log("runs/grpo/trainer_state.json")` and plot it
        beside the sandbox curve.

        ## Settings

        | medr1 option | GRPOConfig field | value |
        |---|---|---|

        """
        for st in settings { s += "| `\(st.from)` | `\(st.trl)` | `\(st.python)` |\n" }
        s += "\n" + (unmapped.isEmpty ? "Every option of this trainer has a TRL counterpart.\n"
                     : "Not carried over (no TRL counterpart): " + unmapped.map { "`\($0)`" }.joined(separator: ", ") + ".\n")
        s += """

        ## Metrics

        | medr1 | TRL's log | what |
        |---|---|---|

        """
        for m in metricTable { s += "| `\(m.medr1)` | `\(m.trl)` | \(m.note) |\n" }
        return s
    }
}
