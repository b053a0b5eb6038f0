/** Interns label sets: many segments share the same set, so each distinct set is stored once. */
export class LabelSets {
  readonly sets: number[][] = [];
  private readonly ids = new Map<string, number>();

  intern(labels: readonly number[]): number {
    const key = labels.join(',');
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.sets.length;
      this.sets.push([...labels]);
      this.ids.set(key, id);
    }
    return id;
  }
}
