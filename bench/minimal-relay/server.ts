/** The minimal PartyKit relay the room server is compared with: every frame goes to everyone else in the room. */
interface Connection { id: string }
interface Room { broadcast(message: string | ArrayBuffer | ArrayBufferView, without?: string[]): void }

export default class MinimalRelay {
  constructor(readonly room: Room) {}

  onMessage(message: string | ArrayBuffer | ArrayBufferView, sender: Connection): void {
    this.room.broadcast(message, [sender.id]);
  }
}
