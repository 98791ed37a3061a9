// Server-side pagination by page tokens: the API hands out the next token; going
// back needs the tokens already seen, kept as a stack (page 1 has token "").

export class TokenPager {
  private tokens: string[] = [""];

  get page(): number {
    return this.tokens.length;
  }

  get current(): string {
    return this.tokens[this.tokens.length - 1]!;
  }

  get hasPrevious(): boolean {
    return this.tokens.length > 1;
  }

  next(token: string): void {
    if (token) this.tokens.push(token);
  }

  previous(): void {
    if (this.tokens.length > 1) this.tokens.pop();
  }

  reset(): void {
    this.tokens = [""];
  }
}
